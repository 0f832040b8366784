# kiln's quickstart: a Debian 12 VM image that serves a web page, built with the `qemu` builder
# on any Linux machine (no cloud account; KVM is used when it works, else QEMU emulates the CPU).
#
# It starts from the small Debian base image scripts/base-image makes (debootstrap against
# Debian's mirror, cached under ~/.cache/kiln), installs nginx from Debian's mirror inside the
# VM, bakes in index.html, and writes the disk, its checksum and a manifest into output/.
# scripts/quickstart does all of it; by hand:
#
#   kiln build -var "base_image=$(scripts/base-image | tail -n 1)" examples/quickstart

packer {
  required_version = ">= 1.7.0"
}

variable "base_image" {
  type        = string
  description = "The Debian base image to start from (the last line scripts/base-image prints)."
}

variable "accelerator" {
  type        = string
  default     = ""
  description = "QEMU's accelerator: kvm, tcg, or empty to let kiln pick one that works here."
}

variable "ssh_password" {
  type        = string
  default     = "kiln-base"
  sensitive   = true
  description = "The password of the base image's user kiln (scripts/base-image sets it)."
}

locals {
  output_dir = "${path.root}/output"
}

source "qemu" "nginx" {
  # Boot the base image's disk (not an installer ISO); the output is a new, full image.
  disk_image       = true
  iso_url          = var.base_image
  iso_checksum     = "none"
  skip_resize_disk = true
  format           = "qcow2"
  # One compressed pass at the end; zstd is several times faster than qemu-img's default zlib.
  disk_compression = true
  qemu_img_args {
    convert = ["-o", "compression_type=zstd"]
  }

  vm_name          = "debian-nginx.qcow2"
  output_directory = local.output_dir
  accelerator      = var.accelerator
  headless         = true
  cpus             = 2
  memory           = 1024

  ssh_username     = "kiln"
  ssh_password     = var.ssh_password
  ssh_timeout      = "10m"
  shutdown_command = "sudo systemctl poweroff"
}

build {
  sources = ["source.qemu.nginx"]

  # The guest reaches Debian's mirror through QEMU's user-mode network.
  provisioner "shell" {
    inline = [
      "sudo DEBIAN_FRONTEND=noninteractive apt-get update -q",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx",
      "sudo systemctl enable nginx",
    ]
  }

  provisioner "file" {
    source      = "${path.root}/index.html"
    destination = "/tmp/index.html"
  }

  provisioner "shell" {
    inline = [
      "sudo install -m 0644 /tmp/index.html /var/www/html/index.html",
      "rm /tmp/index.html",
      "sudo rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb",
    ]
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
