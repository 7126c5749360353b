"""The uid each container of a stack runs as (components/docker/identity.py)."""

from __future__ import annotations

import pytest

from components.docker.identity import (
    APP_GROUP,
    PROXY_GROUP,
    UID_BAND_SIZE,
    UID_BAND_START,
    ContainerRole,
    container_uid,
    container_user,
)

# Stack names as users write them, and many more: every engine-side name is
# django-stack-<stack>.
STACKS = [
    *("dev", "staging", "prod", "production", "test", "qa", "demo", "dev-2", "Dev"),
    *(f"e2e-{kind}-{n}" for kind in ("media", "nproc", "tls") for n in range(40)),
    *(f"customer{n}" for n in range(80)),
]
REPLICAS = 4


def stack_uids(stack: str, replicas: int = REPLICAS) -> list[int]:
    prefix = f"django-stack-{stack}"
    return [
        container_uid(resource_prefix=prefix, role=ContainerRole.PROXY),
        container_uid(resource_prefix=prefix, role=ContainerRole.MIGRATE),
        *(
            container_uid(resource_prefix=prefix, role=ContainerRole.APP, replica=i)
            for i in range(replicas)
        ),
    ]


def test_no_two_containers_share_a_uid_across_many_stacks() -> None:
    everything = [uid for stack in STACKS for uid in stack_uids(stack)]
    assert len(STACKS) > 200 and len(everything) == len(STACKS) * (REPLICAS + 2)
    assert len(set(everything)) == len(everything)
    assert all(UID_BAND_START <= uid < UID_BAND_START + UID_BAND_SIZE for uid in everything)


def test_within_a_stack_the_uids_differ_even_at_the_most_replicas() -> None:
    """By construction, not by luck: a candidate taken by an earlier container is passed."""
    for stack in ("dev", "prod", "e2e-nproc-busy"):
        uids = stack_uids(stack, replicas=100)
        assert len(set(uids)) == 102


def test_uids_are_stable() -> None:
    """The same container, the same uid: on every `up`, and whatever the replica count (a
    new replica replaces no other container)."""
    assert stack_uids("dev", replicas=2) == stack_uids("dev", replicas=5)[:4]
    assert stack_uids("dev") == stack_uids("dev")
    # The proxy keeps the uid the per-stack scheme gave it (dev's, computed by that version):
    # this change replaces no proxy.
    assert container_uid(resource_prefix="django-stack-dev", role=ContainerRole.PROXY) == 1880535822


def test_app_containers_share_the_apps_group_the_proxy_keeps_its_own() -> None:
    prefix = "django-stack-dev"
    users = [
        container_user(resource_prefix=prefix, role=ContainerRole.APP, replica=0),
        container_user(resource_prefix=prefix, role=ContainerRole.APP, replica=1),
        container_user(resource_prefix=prefix, role=ContainerRole.MIGRATE),
    ]
    assert {u.split(":")[1] for u in users} == {str(APP_GROUP)}
    assert len({u.split(":")[0] for u in users}) == 3
    proxy = container_user(resource_prefix=prefix, role=ContainerRole.PROXY)
    assert proxy.endswith(f":{PROXY_GROUP}")


@pytest.mark.parametrize(
    ("role", "replica", "message"),
    [
        (ContainerRole.APP, None, "replica=None for role 'app'"),
        (ContainerRole.PROXY, 0, "replica=0 for role 'proxy'"),
        (ContainerRole.MIGRATE, 1, "replica=1 for role 'migrate'"),
        (ContainerRole.APP, -1, "replica=-1: must be 0 or more"),
    ],
)
def test_the_replica_index_goes_with_the_app_role_only(
    role: ContainerRole, replica: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        container_uid(resource_prefix="django-stack-dev", role=role, replica=replica)
