locals {
  ключ = "значение"
  a-b_c = 1
  x = local.ключ
}
