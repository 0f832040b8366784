packer {
required_version = ">= 1.6.0"
}
source   "amazon-ebs"   "a"   {
ami_name = "x"
}
build {
sources = ["source.amazon-ebs.a"]
  post-processors {
  post-processor "manifest" {}
  }
}
variable "z" {
  type = object({ a = string, b = list(number) })
  validation {
    condition = length(var.z.a) > 0
    error_message = "Must be set."
  }
}
