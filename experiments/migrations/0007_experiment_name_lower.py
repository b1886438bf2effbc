import django.db.models.functions.text
from django.db import migrations, models


def create_trigram_index(apps, schema_editor):  # noqa: ANN001, ANN201
    # The portal's search by name matches `name_lower LIKE '%text%'`; a GIN trigram index on
    # the lower-cased name answers it and its recheck needs no case folding. SQLite has none.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS experiments_exp_name_lower_trgm "
        "ON experiments_experiment USING gin (name_lower gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS experiments_exp_name_lower_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0006_access"),
    ]

    operations = [
        migrations.AddField(
            model_name="experiment",
            name="name_lower",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Lower("name"),
                output_field=models.TextField(),
            ),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
