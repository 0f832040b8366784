# kiln's quickstart: a build that needs no cloud account and no hypervisor.
# The `file` builder creates the artifact, a provisioner runs on this machine, and two
# post-processors record a checksum and a manifest. Run it with:
#
#   kiln build examples/quickstart
#
# Set your own message with -var 'message=...' or the PKR_VAR_message environment variable.

packer {
  required_version = ">= 1.7.0"
}

variable "message" {
  type        = string
  default     = "Built by kiln"
  description = "The text written into the artifact."
}

locals {
  output_dir = "${path.root}/output"
}

source "file" "motd" {
  content = "${var.message}\n"
  target  = "${local.output_dir}/motd.txt"
}

build {
  sources = ["source.file.motd"]

  provisioner "shell-local" {
    inline = ["echo building ${source.type}.${source.name} on $(uname -s)"]
  }

  post-processor "checksum" {
    checksum_types = ["sha256"]
    output         = "${local.output_dir}/{{.BuildName}}.{{.ChecksumType}}"
  }

  post-processor "manifest" {
    output     = "${local.output_dir}/manifest.json"
    strip_path = true
  }
}
