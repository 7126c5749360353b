"""The EC2 stack's media bucket (`media.kind: s3`, `vm.provider: aws`), and the instance role
the app hosts sign their S3 requests with, instead of access keys.

The bucket is private (every public access setting blocked), versioned (an overwritten or
deleted upload can be got back) and encrypted at rest with S3-managed keys. It is kept on
`pulumi destroy`, like the Docker media volume: uploaded files outlive the stack.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html

The role's policy names this bucket only, and only what django-storages does with it: list
it, read, write and delete its objects.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# What django-storages' S3Storage calls: exists/listdir (ListBucket), open/size (GetObject,
# HeadObject is GetObject's permission), save (PutObject), delete (DeleteObject).
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
BUCKET_ACTIONS = ("s3:ListBucket",)


def app_bucket_policy(bucket_arn: str) -> str:
    """The app hosts' policy document: this bucket's objects, nothing else."""
    document: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListTheMediaBucket",
                "Effect": "Allow",
                "Action": list(BUCKET_ACTIONS),
                "Resource": [bucket_arn],
            },
            {
                "Sid": "ReadWriteMediaObjects",
                "Effect": "Allow",
                "Action": list(OBJECT_ACTIONS),
                "Resource": [f"{bucket_arn}/*"],
            },
        ],
    }
    return json.dumps(document)


# Only EC2 may take the role, for the instances it is attached to.
EC2_ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@dataclass(frozen=True)
class MediaBucketArgs:
    """Inputs of a MediaBucket."""

    resource_prefix: str
    """Prefix of names in the cloud, unique per stack."""
    tags: dict[str, str]
    """Tags of every resource."""


class MediaBucket(pulumi.ComponentResource):
    """A private, versioned, encrypted bucket and the instance profile that may use it."""

    bucket_name: pulumi.Output[str]
    region: pulumi.Output[str]
    instance_profile: aws.iam.InstanceProfile

    def __init__(
        self, name: str, args: MediaBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:MediaBucket", name, None, opts)
        mine = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            # A prefix: bucket names are global, and S3 adds a unique suffix.
            bucket_prefix=f"{args.resource_prefix}-media-"[:37],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=mine,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=mine,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=mine,
        )
        role = aws.iam.Role(
            f"{name}-app-role",
            name_prefix=f"{args.resource_prefix}-app-"[:38],
            description="django-stack app hosts: read and write the stack's media bucket",
            assume_role_policy=EC2_ASSUME_ROLE,
            tags=args.tags,
            opts=mine,
        )
        aws.iam.RolePolicy(
            f"{name}-app-policy",
            role=role.id,
            policy=bucket.arn.apply(app_bucket_policy),
            opts=mine,
        )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-app-profile",
            name_prefix=f"{args.resource_prefix}-app-"[:38],
            role=role.name,
            tags=args.tags,
            opts=mine,
        )
        self.bucket_name = bucket.bucket
        self.region = bucket.region
        self.register_outputs({"bucket_name": self.bucket_name})
