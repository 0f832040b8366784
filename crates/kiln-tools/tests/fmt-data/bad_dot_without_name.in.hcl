x {
  a = var. # c
b
}
