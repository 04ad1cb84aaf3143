# Terraform: an Auto Scaling group whose instances are gated by readygate (same design as
# cloudformation.yaml): a launch lifecycle hook with default_result = "ABANDON", a least-privilege
# instance role, and a target group health check on readygate serve's /healthz.
variable "group_name" { default = "web" }
variable "vpc_id" {}
variable "subnet_ids" { type = list(string) }
variable "image_id" {}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "readygate" {
  statement {
    actions = [
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.group_name}",
    ]
  }
  # Only needed when the group's name is not in the instance metadata tags; the action has no
  # resource-level permissions.
  statement {
    actions   = ["autoscaling:DescribeAutoScalingInstances"]
    resources = ["*"]
  }
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

resource "aws_iam_role" "instance" {
  name_prefix        = "readygate-"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "readygate" {
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.readygate.json
}

resource "aws_iam_instance_profile" "instance" {
  role = aws_iam_role.instance.name
}

resource "aws_launch_template" "web" {
  image_id      = var.image_id
  instance_type = "t3.small"
  user_data     = filebase64("${path.module}/cloud-init.yaml")
  iam_instance_profile { arn = aws_iam_instance_profile.instance.arn }
  metadata_options {
    http_tokens            = "required" # IMDSv2 only
    instance_metadata_tags = "enabled"  # the group's name without DescribeAutoScalingInstances
  }
}

resource "aws_lb_target_group" "web" {
  vpc_id   = var.vpc_id
  protocol = "HTTP"
  port     = 80
  health_check {
    protocol            = "HTTP"
    port                = "9901" # [serve] listen = ["0.0.0.0:9901"] on the instance
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_autoscaling_group" "web" {
  name                      = var.group_name
  min_size                  = 2
  max_size                  = 6
  vpc_zone_identifier       = var.subnet_ids
  target_group_arns         = [aws_lb_target_group.web.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300
  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }
  # initial_lifecycle_hook: in place before the first instance launches.
  initial_lifecycle_hook {
    name                 = "readygate-launch" # [lifecycle] hook_name
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result       = "ABANDON"
    heartbeat_timeout    = 600
  }
}
