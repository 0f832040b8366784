locals {
  ét́e = 1
  ab = 2
}
