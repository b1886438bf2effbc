// The deletion confirmation: the button stays disabled until the exact name is typed.
const input = document.getElementById("id_confirm_name");
const button = document.getElementById("confirm-delete");

function update() {
  button.disabled = input.value.trim() !== input.dataset.expected;
}

input.addEventListener("input", update);
update();
