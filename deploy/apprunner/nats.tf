# NATS beside App Runner. App Runner runs HTTP services only, with no disk that outlives an
# instance, so JetStream cannot live there: three EC2 servers, one per availability zone, form a
# NATS cluster with JetStream on encrypted volumes, and the stream keeps three copies
# (AMP_STREAM_REPLICAS=3): it survives the loss of any one server, whose replacement catches up
# from the other two. Each server keeps its address on a network interface of its own, so the
# cluster's routes and the services' NATS_URL never change when an instance is replaced.

locals {
  nats_count   = 3
  nats_subnets = slice(var.private_subnet_ids, 0, local.nats_count)
  nats_ips     = [for eni in aws_network_interface.nats : eni.private_ip]
  nats_url     = join(",", [for ip in local.nats_ips : "nats://${ip}:4222"])
  nats_routes  = join(",", [for ip in local.nats_ips : "nats://${ip}:6222"])
}

data "aws_ssm_parameter" "al2023_arm64" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

resource "aws_security_group" "nats" {
  name        = "${var.name}-nats"
  description = "NATS: clients from the App Runner services, routes and monitoring among the servers"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "nats_clients" {
  security_group_id            = aws_security_group.nats.id
  referenced_security_group_id = aws_security_group.services.id
  ip_protocol                  = "tcp"
  from_port                    = 4222
  to_port                      = 4222
  description                  = "NATS clients (the platform's services)"
}

resource "aws_vpc_security_group_ingress_rule" "nats_routes" {
  for_each                     = { routes = 6222, monitor = 8222, clients = 4222 }
  security_group_id            = aws_security_group.nats.id
  referenced_security_group_id = aws_security_group.nats.id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  description                  = "NATS ${each.key} between the servers"
}

resource "aws_vpc_security_group_egress_rule" "nats_all" {
  security_group_id = aws_security_group.nats.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "routes to peers, the image pull and SSM"
}

resource "aws_network_interface" "nats" {
  count           = local.nats_count
  subnet_id       = local.nats_subnets[count.index]
  security_groups = [aws_security_group.nats.id]
  description     = "${var.name} NATS server ${count.index}"
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nats" {
  name_prefix        = "${var.name}-nats-"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "nats_ssm" {
  role       = aws_iam_role.nats.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" # shell access without SSH
}

resource "aws_iam_instance_profile" "nats" {
  name_prefix = "${var.name}-nats-"
  role        = aws_iam_role.nats.name
}

resource "aws_instance" "nats" {
  count                = local.nats_count
  ami                  = data.aws_ssm_parameter.al2023_arm64.value
  instance_type        = var.nats_instance_type
  iam_instance_profile = aws_iam_instance_profile.nats.name

  network_interface {
    network_interface_id = aws_network_interface.nats[count.index].id
    device_index         = 0
  }

  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.nats_volume_size_gb
    encrypted   = true
  }

  user_data_replace_on_change = true
  user_data = templatefile("${path.module}/nats-user-data.sh.tftpl", {
    image       = var.nats_image
    server_name = "${var.name}-nats-${count.index}"
    cluster     = "${var.name}-nats"
    routes      = local.nats_routes
    advertise   = local.nats_ips[count.index]
  })

  tags = {
    Name = "${var.name}-nats-${count.index}"
  }

  lifecycle {
    ignore_changes = [ami] # a new AMI is rolled one server at a time, by hand
  }
}
