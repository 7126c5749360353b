"""`media.kind: s3` under Pulumi mocks, on every target: what the replicas are told, what gets
installed, that the proxy serves no media, the EC2 bucket and its role; and the database
volume's retention (Docker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.render.media import MEDIA_MOUNT, UPLOAD_TEMP_DIR
from components.render.systemd import UPLOAD_TEMP_DIR_VM
from components.render.tls import TLS_DIR
from tests.support.mocks import MOCK_REGION, ProgramRun, is_wire_secret, run_program, unwrap_secrets
from tests.support.stack_files import stack_config
from tests.unit.test_stack import CONTAINER, IMAGE, VOLUME, containers, proxy_conf
from tests.unit.test_vm_stack import (
    INSTANCE,
    PRIVATE_KEY,
    SECRET_KEY,
    by_id,
    commands,
    plain_outside_secrets,
    unpack,
)

ACCESS_KEY_ID = "AKIDMEDIAEXAMPLE0001"
SECRET_ACCESS_KEY = "media-secret-access-key-that-must-stay-secret"
S3 = {"kind": "s3", "bucket": "site-uploads", "endpoint": "http://s3.internal:8333"}
KEYS = {"mediaAccessKeyId": ACCESS_KEY_ID, "mediaSecretAccessKey": SECRET_ACCESS_KEY}
SECRETS = [f"django-stack:{k}" for k in KEYS]
BUCKET = "aws:s3/bucket:Bucket"
S3_REQUIREMENTS = ("django-storages[s3]==", "boto3==")


def docker_deploy(stack: str = "staging", **overrides: Any) -> ProgramRun:
    config = stack_config(stack, {"media": S3, **KEYS, **overrides})
    return run_program(config, stack=stack, secret_keys=SECRETS)


def vm_deploy(case_id: str, **extra: Any) -> ProgramRun:
    case = by_id(case_id)
    overrides = {
        "platform": "vm",
        "sshPrivateKey": PRIVATE_KEY,
        "secretKey": SECRET_KEY,
        **case["overrides"],
        **extra,
    }
    secrets = SECRETS if "mediaAccessKeyId" in extra else []
    return run_program(stack_config("dev", overrides), stack="dev", secret_keys=secrets)


def app_image_requirements(run: ProgramRun) -> str:
    (image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
    return (Path(image.inputs["build"]["context"]) / "server-requirements.txt").read_text()


def test_docker_s3_replicas_store_in_the_bucket_and_the_proxy_serves_no_media() -> None:
    run = docker_deploy(replicas=3)
    replicas = containers(run, "app") + containers(run, "migrate")
    assert len(replicas) == 4
    for container in replicas:
        assert is_wire_secret(container.inputs["envs"])
        env = unwrap_secrets(container.inputs["envs"])
        assert "DJANGO_MEDIA_STORAGE=s3" in env
        assert "DJANGO_S3_BUCKET=site-uploads" in env
        assert "DJANGO_S3_ENDPOINT_URL=http://s3.internal:8333" in env
        assert f"AWS_ACCESS_KEY_ID={ACCESS_KEY_ID}" in env
        assert f"AWS_SECRET_ACCESS_KEY={SECRET_ACCESS_KEY}" in env
        assert not any(e.startswith("DJANGO_MEDIA_ROOT=") for e in env)
        # Spooled uploads go to a volume of their own, not to the 64 MB /tmp tmpfs.
        assert f"DJANGO_FILE_UPLOAD_TEMP_DIR={UPLOAD_TEMP_DIR}" in env
        mounts = [v for v in container.inputs["volumes"] if v["containerPath"] == MEDIA_MOUNT]
        assert mounts == [
            {"volumeName": "django-stack-staging-upload-tmp", "containerPath": MEDIA_MOUNT}
        ]
    (temp,) = [v for v in run.of_type(VOLUME) if v.inputs["name"].endswith("upload-tmp")]
    assert temp.retain_on_delete is False
    assert not any(v.inputs["name"].endswith("-media") for v in run.of_type(VOLUME))
    (front,) = containers(run, "proxy")
    # Its one volume is its TLS one (components/docker/proxy_certificate.py): no media.
    assert [v["containerPath"] for v in front.inputs.get("volumes") or []] == [TLS_DIR]
    assert "/media/" not in proxy_conf(run) and "/srv/media" not in proxy_conf(run)
    # The keys are in no registration's visible inputs.
    for registration in run.registrations:
        visible = plain_outside_secrets(registration.inputs)
        assert ACCESS_KEY_ID not in visible and SECRET_ACCESS_KEY not in visible, registration
    # The bucket's endpoint is outside the stack: the replicas' network routes out.
    (private,) = [n for n in run.of_type("docker:index/network:Network") if "private" in n.name]
    assert private.inputs["internal"] is False


def test_django_storages_is_installed_only_with_s3() -> None:
    with_s3 = app_image_requirements(docker_deploy())
    assert all(r in with_s3 for r in S3_REQUIREMENTS)
    volume = app_image_requirements(run_program(stack_config("staging"), stack="staging"))
    assert not any(r.split("[")[0].split("==")[0] in volume for r in S3_REQUIREMENTS)
    # Without s3 the replicas' network stays internal.
    run = run_program(stack_config("staging"), stack="staging")
    (private,) = [n for n in run.of_type("docker:index/network:Network") if "private" in n.name]
    assert private.inputs["internal"] is True


def test_vm_hosts_s3_settings_and_requirements_reach_every_app_host() -> None:
    run = vm_deploy("hosts-gunicorn-nginx", media=S3, **KEYS)
    steps = commands(run)
    app_hosts = sorted(n for n in steps if n.endswith("-settings"))
    assert len(app_hosts) == by_id("hosts-gunicorn-nginx")["app_hosts"]
    for name in app_hosts:
        stdin = steps[name].inputs["stdin"]
        assert is_wire_secret(stdin)
        settings = unwrap_secrets(stdin)
        assert 'DJANGO_MEDIA_STORAGE="s3"' in settings
        assert 'DJANGO_S3_BUCKET="site-uploads"' in settings
        assert f'AWS_SECRET_ACCESS_KEY="{SECRET_ACCESS_KEY}"' in settings
        # On the data disk the unit may write, not the unit's private /tmp.
        assert f'DJANGO_FILE_UPLOAD_TEMP_DIR="{UPLOAD_TEMP_DIR_VM}"' in settings
    release = unpack(unwrap_secrets(steps["django-app-0-release"].inputs["stdin"]))
    assert all(r in release["server-requirements.txt"] for r in S3_REQUIREMENTS)
    base = unwrap_secrets(steps["django-app-0-base"].inputs["create"])
    assert UPLOAD_TEMP_DIR_VM in base
    for registration in run.registrations:
        visible = plain_outside_secrets(registration.inputs)
        assert SECRET_ACCESS_KEY not in visible, registration.name


def test_vm_without_s3_installs_no_storage_backend() -> None:
    steps = commands(vm_deploy("hosts-gunicorn-nginx"))
    release = unpack(unwrap_secrets(steps["django-app-0-release"].inputs["stdin"]))
    assert "django-storages" not in release["server-requirements.txt"]
    settings = unwrap_secrets(steps["django-app-0-settings"].inputs["stdin"])
    assert "DJANGO_MEDIA_STORAGE" not in settings and "AWS_" not in settings


def test_ec2_creates_a_private_versioned_encrypted_bucket_kept_on_destroy() -> None:
    run = vm_deploy("aws-gunicorn-nginx", media={"kind": "s3"})
    (bucket,) = run.of_type(BUCKET)
    assert bucket.inputs["bucketPrefix"].startswith("django-stack-dev-media-")
    assert bucket.retain_on_delete is True
    bucket_id = f"{bucket.name}-id"
    (block,) = run.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.inputs == {
        "bucket": bucket_id,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    (versioning,) = run.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["bucket"] == bucket_id
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    (encryption,) = run.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert encryption.inputs["bucket"] == bucket_id


def test_ec2_app_hosts_get_a_role_scoped_to_the_bucket_and_no_keys() -> None:
    run = vm_deploy("aws-gunicorn-nginx", media={"kind": "s3"})
    (bucket,) = run.of_type(BUCKET)
    arn = bucket.outputs["arn"]
    (role,) = run.of_type("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    (policy,) = run.of_type("aws:iam/rolePolicy:RolePolicy")
    document = json.loads(policy.inputs["policy"])
    grants = {tuple(s["Resource"]): sorted(s["Action"]) for s in document["Statement"]}
    assert grants == {
        (arn,): ["s3:ListBucket"],
        (f"{arn}/*",): ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
    }
    assert all(s["Effect"] == "Allow" and "*" not in s["Action"] for s in document["Statement"])
    (profile,) = run.of_type("aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == role.outputs["name"]
    instances = {i.name.removeprefix("django-hosts-"): i for i in run.of_type(INSTANCE)}
    for name, instance in instances.items():
        given = instance.inputs.get("iamInstanceProfile")
        # Only the app hosts may use the bucket.
        assert given == (profile.outputs["name"] if name.startswith("app-") else None), name
    steps = commands(run)
    for i in range(2):
        settings = unwrap_secrets(steps[f"django-app-{i}-settings"].inputs["stdin"])
        assert f'DJANGO_S3_BUCKET="{bucket.outputs["bucket"]}"' in settings
        assert f'DJANGO_S3_REGION="{MOCK_REGION}"' in settings
        assert "AWS_ACCESS_KEY_ID" not in settings and "AWS_SECRET_ACCESS_KEY" not in settings
        assert "DJANGO_S3_ENDPOINT_URL" not in settings


def test_ec2_refuses_a_bucket_or_keys_of_the_users() -> None:
    with pytest.raises(Exception) as error:
        vm_deploy("aws-gunicorn-nginx", media={"kind": "s3", "bucket": "mine"}, **KEYS)
    message = str(error.value)
    assert "django-stack:media.bucket: not allowed with vm.provider 'aws'" in message
    assert "mediaAccessKeyId, mediaSecretAccessKey: not allowed here" in message
    assert SECRET_ACCESS_KEY not in message


def test_no_bucket_without_s3_on_ec2() -> None:
    run = vm_deploy("aws-gunicorn-nginx")
    assert run.of_type(BUCKET) == [] and run.of_type("aws:iam/role:Role") == []
    assert all(not i.inputs.get("iamInstanceProfile") for i in run.of_type(INSTANCE))


@pytest.mark.parametrize(
    ("stack", "overrides", "retained"),
    [
        ("staging", {}, True),
        ("dev", {}, False),
        ("staging", {"database": {"kind": "postgres", "retainOnDelete": False}}, False),
        ("dev", {"database": {"kind": "postgres", "retainOnDelete": True}}, True),
        ("dev", {"database": {"kind": "sqlite"}, "replicas": 1}, False),
    ],
    ids=["production", "dev", "production-opted-out", "dev-opted-in", "dev-sqlite"],
)
def test_the_database_volume_is_kept_on_destroy_on_production_stacks(
    stack: str, overrides: dict[str, Any], retained: bool
) -> None:
    run = run_program(stack_config(stack, overrides), stack=stack)
    (volume,) = [
        v for v in run.of_type(VOLUME) if v.inputs["name"].endswith(("-pgdata", "-sqlite"))
    ]
    assert volume.retain_on_delete is retained
    assert any(c.typ == CONTAINER for c in run.registrations)
