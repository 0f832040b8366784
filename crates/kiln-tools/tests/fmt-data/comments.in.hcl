/* header
   comment
      continued */
# hash
// slashes
variable "x" { # after brace
type = string   /* inline */
  default="a" // trailing
/* multi
   line */
}

variable "y" {
   default = [ # open
     1, /* one */ 2,
   ]   # close
}
