"""Docker build contexts as plain data: which files go in, and a digest that names the image.

A context is computed purely (paths to bytes) and written to disk only for the build. The
digest of its contents becomes the image tag, so a changed file means a new tag and the
containers that use it are replaced; an unchanged one means nothing to do.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.choices import AppServer, DependencyFormat, MediaKind, Proxy
from components.dependencies import Dependencies
from components.render.app_server_config import config_file_name
from components.render.templates import template_path

# Never shipped into an image: caches, local databases, virtualenvs, VCS data, build output.
IGNORED = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".git",
    ".venv",
    "venv",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    "*.sqlite3",
    "staticfiles",
    ".DS_Store",
    ".env",
)


@dataclass(frozen=True)
class BuildContext:
    """The files of one Docker build context, by relative path."""

    files: Mapping[str, bytes]

    def digest(self) -> str:
        """A short content hash: equal contexts build equal images."""
        sha = hashlib.sha256()
        for path in sorted(self.files):
            sha.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return sha.hexdigest()[:16]

    def write(self, dest: Path) -> Path:
        """Write the context to `dest`, replacing whatever was there; returns `dest`."""
        if dest.exists():
            shutil.rmtree(dest)
        for relative, content in self.files.items():
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            if relative.endswith(".sh"):
                target.chmod(0o755)  # entrypoints must stay executable in the image
        return dest


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def project_files(app_path: Path) -> dict[str, bytes]:
    """The Django project's files, minus caches and local state, by relative path."""
    files: dict[str, bytes] = {}
    for path in sorted(app_path.rglob("*")):
        relative = path.relative_to(app_path)
        if any(_ignored(part) for part in relative.parts) or not path.is_file():
            continue
        files[relative.as_posix()] = path.read_bytes()
    return files


# Where the dependency install step's files go, in a build context and in a VM release: the
# stack's install script (and uv's pin) beside the project's declaration files.
DEPENDENCIES_DIR = "dependencies"


def dependency_files(dependencies: Dependencies) -> dict[str, bytes]:
    """The install step's files: `dependencies/install.sh` and the `format` it installs, and
    the project's declaration files under `dependencies/project/` at their paths in the
    project (pip resolves includes relative to the including file)."""
    files = {
        f"{DEPENDENCIES_DIR}/install.sh": template_path("dependencies/install.sh").read_bytes(),
        f"{DEPENDENCIES_DIR}/format": dependencies.format.value.encode() + b"\n",
        **{f"{DEPENDENCIES_DIR}/project/{k}": v for k, v in dependencies.files.items()},
    }
    if dependencies.format is DependencyFormat.UV:
        files[f"{DEPENDENCIES_DIR}/uv-requirements.txt"] = template_path(
            "dependencies/uv-requirements.txt"
        ).read_bytes()
    return files


def server_requirements(app_server: AppServer, media: MediaKind = MediaKind.NONE) -> bytes:
    """What pip installs besides the project's own dependencies: the app server, the database
    driver, and django-storages with boto3 only when the stack stores media in S3."""
    requirements = template_path(f"docker/server-requirements/{app_server.value}.txt").read_bytes()
    if media is MediaKind.S3:
        requirements += template_path("docker/server-requirements/media-s3.txt").read_bytes()
    return requirements


def app_build_context(
    *,
    app_path: Path,
    dependencies: Dependencies,
    app_server: AppServer,
    app_server_config: str | None,
    extra_ca_bundle: bytes | None,
    media: MediaKind = MediaKind.NONE,
) -> BuildContext:
    """The app image's context: the project, its dependency declaration, the settings overlay,
    the server's config."""
    files = {f"project/{k}": v for k, v in project_files(app_path).items()}
    files.update(dependency_files(dependencies))
    files.update(
        {
            "Dockerfile": template_path("docker/app.Dockerfile").read_bytes(),
            "server-requirements.txt": server_requirements(app_server, media),
            "django_stack_settings.py": template_path(
                "django/django_stack_settings.py"
            ).read_bytes(),
            "django_stack_health.py": template_path("django/django_stack_health.py").read_bytes(),
            "django_stack_precompress.py": template_path(
                "django/django_stack_precompress.py"
            ).read_bytes(),
            "healthcheck.py": template_path("docker/healthcheck.py").read_bytes(),
            # Always present (maybe empty) so the Dockerfile's COPY never fails.
            "extra-ca.crt": extra_ca_bundle or b"",
        }
    )
    name = config_file_name(app_server)
    # The folder is always there (the Dockerfile copies it), with the server's config if any.
    files[f"app-server/{name or '.keep'}"] = (app_server_config or "").encode()
    return BuildContext(files)


def proxy_build_context(*, proxy: Proxy, proxy_config: str, app_image: str) -> BuildContext:
    """The proxy image's context: Dockerfile and rendered config.

    The app image's name goes into the digest too: the proxy image carries its static files.
    """
    files = {
        "Dockerfile": template_path(f"docker/{proxy.value}.Dockerfile").read_bytes(),
        "proxy.conf": proxy_config.encode(),
        ".app-image": app_image.encode(),
    }
    if proxy is Proxy.APACHE:
        # mod_qos, for the per-client limits (the script says why it is not one apt line).
        files["install-mod-qos.sh"] = template_path("apache/install-mod-qos.sh").read_bytes()
    return BuildContext(files)


def database_build_context() -> BuildContext:
    """The PostgreSQL image's context."""
    return BuildContext(
        {
            "Dockerfile": template_path("postgres/postgres.Dockerfile").read_bytes(),
            "postgres-entrypoint.sh": template_path("postgres/postgres-entrypoint.sh").read_bytes(),
        }
    )
