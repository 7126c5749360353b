"""Where the VM target's machines come from: the stack config, or EC2 instances made here.

Either way the rest of the target sees the same `HostSet`: for each machine, how SSH reaches
it (a secret private key, and a jump through the proxy host for private EC2 machines) and the
private address the other machines use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
from pulumi_command import remote

from components.choices import DebianRelease, VmProvider
from components.config import VmConfig, VmHost
from components.render.app_server_config import APP_PORT
from components.vm.media_bucket import MediaBucket, MediaBucketArgs

# Debian's own account on AWS publishes the official images, named after the release's
# version: https://wiki.debian.org/Cloud/AmazonEC2Image
DEBIAN_AMI_OWNER = "136693071363"
WORLD_V4 = "0.0.0.0/0"
WORLD_V6 = "::/0"
PUBLIC_PORTS = (80, 443)


@dataclass(frozen=True)
class Host:
    """One machine as the remote commands reach it."""

    role: str
    """`proxy`, `app-<i>` or `database`."""
    connection: remote.ConnectionArgs
    """SSH connection (the private key is a secret)."""
    private_address: pulumi.Output[str]
    """The address other machines of the stack reach it by."""
    public_address: pulumi.Output[str]
    """The address clients (the proxy) or SSH reach it by."""


@dataclass(frozen=True)
class HostSet:
    """Every machine of one stack."""

    proxy: Host
    apps: list[Host]
    database: Host | None
    resources: list[pulumi.Resource] = field(default_factory=list)
    media_bucket: MediaBucket | None = None
    """EC2 with `media.kind: s3`: the bucket the stack made, which the app hosts' role may use."""


@dataclass(frozen=True)
class VmHostsArgs:
    """Inputs of VmHosts."""

    vm: VmConfig
    """The validated `vm` config."""
    replicas: int
    """App hosts to create (aws; with `hosts` the config lists them)."""
    database_host: bool
    """Whether PostgreSQL gets a machine of its own."""
    database_port: int
    """PostgreSQL's port, opened to the app hosts only."""
    resource_prefix: str
    """Prefix of names in the cloud, unique per stack."""
    stack: str
    """Stack name, for tags."""
    debian_release: DebianRelease
    """The release whose AMI the EC2 instances start from."""
    media_bucket: bool = False
    """EC2: create the media bucket and give the app hosts an instance role for it."""


def debian_ami_name(release: DebianRelease) -> str:
    """The name filter of Debian's own amd64 AMIs of `release`, e.g. `debian-13-amd64-*`."""
    return f"debian-{release.version}-amd64-*"


class VmHosts(pulumi.ComponentResource):
    """The machines: given ones (no resources), or EC2 instances with their firewall."""

    hosts: HostSet

    def __init__(
        self, name: str, args: VmHostsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:VmHosts", name, None, opts)
        key = args.vm.ssh_private_key.as_output()
        if args.vm.provider is VmProvider.HOSTS:
            self.hosts = _given_hosts(args.vm, key)
        else:
            self.hosts = self._aws_hosts(name, args, key)
        self.register_outputs({"proxy": self.hosts.proxy.public_address})

    def _aws_hosts(self, name: str, args: VmHostsArgs, key: pulumi.Output[str]) -> HostSet:
        vm = args.vm
        mine = pulumi.ResourceOptions(parent=self)
        tags = {"django-stack:stack": args.stack}
        ami = aws.ec2.get_ami_output(
            most_recent=True,
            owners=[DEBIAN_AMI_OWNER],
            filters=[
                aws.ec2.GetAmiFilterArgs(
                    name="name", values=[debian_ami_name(args.debian_release)]
                ),
                aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            ],
            opts=pulumi.InvokeOptions(parent=self),
        )
        key_pair = aws.ec2.KeyPair(
            f"{name}-key",
            key_name_prefix=f"{args.resource_prefix}-",
            public_key=vm.ssh_public_key or "",
            tags=tags,
            opts=mine,
        )
        egress = [
            aws.ec2.SecurityGroupEgressArgs(
                description="packages (apt, pip) and replies",
                protocol="-1",
                from_port=0,
                to_port=0,
                cidr_blocks=[WORLD_V4],
                ipv6_cidr_blocks=[WORLD_V6],
            )
        ]
        proxy_sg = aws.ec2.SecurityGroup(
            f"{name}-proxy-sg",
            name_prefix=f"{args.resource_prefix}-proxy-",
            description="django-stack proxy: HTTP(S) from anywhere, SSH from the admin CIDR",
            ingress=[
                *(
                    aws.ec2.SecurityGroupIngressArgs(
                        description=f"port {port} from anywhere",
                        protocol="tcp",
                        from_port=port,
                        to_port=port,
                        cidr_blocks=[WORLD_V4],
                        ipv6_cidr_blocks=[WORLD_V6],
                    )
                    for port in PUBLIC_PORTS
                ),
                aws.ec2.SecurityGroupIngressArgs(
                    description="SSH from the admin network only",
                    protocol="tcp",
                    from_port=22,
                    to_port=22,
                    cidr_blocks=[vm.ssh_allowed_cidr or ""],
                ),
            ],
            egress=egress,
            tags=tags,
            opts=mine,
        )
        from_proxy = [
            aws.ec2.SecurityGroupIngressArgs(
                description="SSH from the proxy host (the jump host)",
                protocol="tcp",
                from_port=22,
                to_port=22,
                security_groups=[proxy_sg.id],
            )
        ]
        app_sg = aws.ec2.SecurityGroup(
            f"{name}-app-sg",
            name_prefix=f"{args.resource_prefix}-app-",
            description="django-stack app hosts: the app server and SSH from the proxy only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="app server from the proxy",
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    security_groups=[proxy_sg.id],
                ),
                *from_proxy,
            ],
            egress=egress,
            tags=tags,
            opts=mine,
        )

        bucket = (
            MediaBucket(
                f"{name}-media",
                MediaBucketArgs(resource_prefix=args.resource_prefix, tags=tags),
                mine,
            )
            if args.media_bucket
            else None
        )

        def instance(
            role: str,
            group: aws.ec2.SecurityGroup,
            profile: aws.iam.InstanceProfile | None = None,
        ) -> aws.ec2.Instance:
            return aws.ec2.Instance(
                f"{name}-{role}",
                ami=ami.id,
                instance_type=vm.instance_type,
                key_name=key_pair.key_name,
                vpc_security_group_ids=[group.id],
                # The app hosts' S3 credentials: the role's, fetched from the instance
                # metadata by boto3 and rotated by AWS; no key is ever stored on a machine.
                iam_instance_profile=profile.name if profile is not None else None,
                # Public addresses give apt and pip a way out in the default VPC (no NAT);
                # the security groups keep everything but the proxy's 80/443 closed.
                associate_public_ip_address=True,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                    encrypted=True, volume_size=16, volume_type="gp3"
                ),
                tags={**tags, "Name": f"{args.resource_prefix}-{role}"},
                opts=mine,
            )

        proxy = instance("proxy", proxy_sg)
        profile = bucket.instance_profile if bucket is not None else None
        apps = [instance(f"app-{i}", app_sg, profile) for i in range(args.replicas)]
        resources: list[pulumi.Resource] = [key_pair, proxy_sg, app_sg, proxy, *apps]
        database = None
        if args.database_host:
            db_sg = aws.ec2.SecurityGroup(
                f"{name}-database-sg",
                name_prefix=f"{args.resource_prefix}-database-",
                description="django-stack database: PostgreSQL from the app hosts only",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        description="PostgreSQL from the app hosts",
                        protocol="tcp",
                        from_port=args.database_port,
                        to_port=args.database_port,
                        security_groups=[app_sg.id],
                    ),
                    *from_proxy,
                ],
                egress=egress,
                tags=tags,
                opts=mine,
            )
            db = instance("database", db_sg)
            resources += [db_sg, db]
            database = _behind(vm, key, "database", db, jump=proxy)
        proxy_host = Host(
            role="proxy",
            connection=_connection(vm, key, proxy.public_ip),
            private_address=proxy.private_ip,
            public_address=proxy.public_ip,
        )
        return HostSet(
            proxy=proxy_host,
            apps=[_behind(vm, key, f"app-{i}", a, jump=proxy) for i, a in enumerate(apps)],
            database=database,
            resources=resources,
            media_bucket=bucket,
        )


def _connection(
    vm: VmConfig,
    key: pulumi.Output[str],
    address: pulumi.Input[str],
    *,
    jump: pulumi.Input[str] | None = None,
) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(
        host=address,
        port=vm.ssh_port,
        user=vm.ssh_user,
        private_key=key,
        proxy=remote.ProxyConnectionArgs(
            host=jump, port=vm.ssh_port, user=vm.ssh_user, private_key=key
        )
        if jump is not None
        else None,
    )


def _behind(
    vm: VmConfig,
    key: pulumi.Output[str],
    role: str,
    machine: aws.ec2.Instance,
    *,
    jump: aws.ec2.Instance,
) -> Host:
    """A private EC2 machine: SSH goes through the proxy host, the only one open to SSH."""
    return Host(
        role=role,
        connection=_connection(vm, key, machine.private_ip, jump=jump.public_ip),
        private_address=machine.private_ip,
        public_address=machine.private_ip,
    )


def _given(vm: VmConfig, key: pulumi.Output[str], role: str, host: VmHost) -> Host:
    return Host(
        role=role,
        connection=_connection(vm, key, host.address),
        private_address=pulumi.Output.from_input(host.private_address),
        public_address=pulumi.Output.from_input(host.address),
    )


def _given_hosts(vm: VmConfig, key: pulumi.Output[str]) -> HostSet:
    assert vm.proxy_host is not None  # required by the config validation
    return HostSet(
        proxy=_given(vm, key, "proxy", vm.proxy_host),
        apps=[_given(vm, key, f"app-{i}", h) for i, h in enumerate(vm.app_hosts)],
        database=_given(vm, key, "database", vm.database_host) if vm.database_host else None,
    )
