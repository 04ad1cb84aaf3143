# Terraform snippet: an Auto Scaling group whose launch hook readygate completes. Merge into your
# configuration; subnets, target groups and the image are yours.

resource "aws_autoscaling_group" "web" {
  name                = "web-asg"
  min_size            = 2
  max_size            = 10
  vpc_zone_identifier = var.subnet_ids
  target_group_arns   = [aws_lb_target_group.web.arn]

  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }

  # Created with the group, so it holds the group's very first instances too.
  initial_lifecycle_hook {
    name                 = "readygate-launch"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    # Whatever readygate cannot complete (a crash, no network, a wedged boot) is abandoned.
    default_result = "ABANDON"
    # At least twice heartbeat_interval (30s); readygate heartbeats while its checks run.
    heartbeat_timeout = 600
  }
}

resource "aws_launch_template" "web" {
  name_prefix   = "web-"
  image_id      = var.image_id
  instance_type = "t3.small"

  iam_instance_profile {
    name = aws_iam_instance_profile.web.name
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only: readygate never uses IMDSv1
    http_put_response_hop_limit = 1          # 2 if readygate runs in a container
    instance_metadata_tags      = "enabled"  # the group's name without DescribeAutoScalingInstances
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "readygate_lifecycle" {
  statement {
    actions = [
      "autoscaling:RecordLifecycleActionHeartbeat",
      "autoscaling:CompleteLifecycleAction",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/web-asg",
    ]
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

resource "aws_iam_role" "web" {
  name               = "web-instance"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "readygate_lifecycle" {
  name   = "readygate-lifecycle"
  role   = aws_iam_role.web.id
  policy = data.aws_iam_policy_document.readygate_lifecycle.json
}

resource "aws_iam_instance_profile" "web" {
  name = "web-instance"
  role = aws_iam_role.web.name
}
