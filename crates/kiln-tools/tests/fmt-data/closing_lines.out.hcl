build {
  provisioner "shell" {
    inline = [
      "a",
    "b"]
  }
  provisioner "shell" { inline = ["c"] }
}
variable "v" {
  default = {
    a = [1,
    2],
    b = { c = {
    d = 1 } }
  }
}
