source "null" "x" {
  communicator="none"
  a = 1 # one
  longer_name = "two"   // two
  tags = {
    Name = "n"
    "quoted key" = "v"
    k2 : "colon"
  }
  after = 3
  very_long_name_here = 4 /* block */
  x = 5
  # full line comment
  y = 6      # trailing

  z = 7
  list = [
    "a",   # comment in list
    "bb",
  ]
  ünïcode = 1
  b = 2
}
