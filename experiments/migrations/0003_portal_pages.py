"""The browser portal: metric rollups for charts, experiments' last run time for ranking and
listing by activity, and a trigram index for finding experiments by name (PostgreSQL only)."""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models

BACKFILL_CHUNK = 10_000


def backfill_last_run_time(apps, schema_editor):  # noqa: ANN001, ANN201
    Experiment = apps.get_model("experiments", "Experiment")
    Run = apps.get_model("experiments", "Run")
    newest = Run.objects.filter(experiment=models.OuterRef("pk")).order_by("-start_time")
    Experiment.objects.update(last_run_time=models.Subquery(newest.values("start_time")[:1]))


def backfill_rollups(apps, schema_editor):  # noqa: ANN001, ANN201
    # The same fold the ingest uses, over the stored history one run at a time.
    from experiments.services.metrics import MetricRow, rollups_of, rollups_upsert

    Metric = apps.get_model("experiments", "Metric")
    run_pks = Metric.objects.values_list("run_id", flat=True).distinct().order_by("run_id")
    with schema_editor.connection.cursor() as cursor:
        for run_pk in list(run_pks):
            rows = (
                Metric.objects.filter(run_id=run_pk)
                .values_list("key", "timestamp", "step", "value", "is_nan")
                .order_by("key", "timestamp", "step")
                .iterator(chunk_size=BACKFILL_CHUNK)
            )
            chunk = []
            for row in rows:
                chunk.append(MetricRow(*row))
                if len(chunk) >= BACKFILL_CHUNK:
                    rollups_upsert(cursor, run_pk=run_pk, rollups=rollups_of(chunk))
                    chunk = []
            rollups_upsert(cursor, run_pk=run_pk, rollups=rollups_of(chunk))


def create_trigram_index(apps, schema_editor):  # noqa: ANN001, ANN201
    # Experiment search is a case-insensitive substring match (ILIKE '%text%'); on PostgreSQL
    # a GIN trigram index answers it without reading every experiment. SQLite has none.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS experiments_exp_name_trgm "
        "ON experiments_experiment USING gin (name gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS experiments_exp_name_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ('experiments', '0002_default_workspace'),
    ]

    operations = [
        migrations.CreateModel(
            name='MetricRollup',
            fields=[
                ('pk', models.CompositePrimaryKey('run_id', 'key', 'level', 'bucket', blank=True, editable=False, primary_key=True, serialize=False)),
                ('key', models.CharField(max_length=250)),
                ('level', models.SmallIntegerField()),
                ('bucket', models.BigIntegerField()),
                ('count', models.BigIntegerField()),
                ('step_lo', models.BigIntegerField()),
                ('step_hi', models.BigIntegerField()),
                ('timestamp_lo', models.BigIntegerField()),
                ('timestamp_hi', models.BigIntegerField()),
                ('min_value', models.FloatField()),
                ('min_step', models.BigIntegerField()),
                ('min_timestamp', models.BigIntegerField()),
                ('max_value', models.FloatField()),
                ('max_step', models.BigIntegerField()),
                ('max_timestamp', models.BigIntegerField()),
                ('first_value', models.FloatField()),
                ('first_timestamp', models.BigIntegerField()),
                ('last_value', models.FloatField()),
                ('last_timestamp', models.BigIntegerField()),
                ('run', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='experiments.run')),
            ],
        ),
        migrations.AddField(
            model_name='experiment',
            name='last_run_time',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='experiment',
            index=models.Index(models.F('workspace'), models.F('lifecycle_stage'), models.OrderBy(django.db.models.functions.comparison.Coalesce(models.F('last_run_time'), models.F('creation_time')), descending=True), name='experiments_exp_ws_activity'),
        ),
        migrations.RunPython(backfill_last_run_time, migrations.RunPython.noop),
        migrations.RunPython(backfill_rollups, migrations.RunPython.noop),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
