"""templates/django/django_stack_precompress.py: the gzip copies made after collectstatic.

The script runs in the app image's build and on the VM proxy host, where the components are
not installed: here it is loaded from its file, run on a tree of static files, and checked
to agree with what the proxies are told to compress (components/render/proxy_config.py).
"""

from __future__ import annotations

import gzip
import importlib.util
import mimetypes
from pathlib import Path
from types import ModuleType

from components.dependencies import detect_dependencies
from components.render.proxy_config import COMPRESSED_TYPES, PRECOMPRESSED_EXTENSIONS
from components.render.templates import template_path
from components.render.vm_scripts import release_context
from tests.support.stack_files import PROJECT_DIR
from tests.unit.test_stack import IMAGE, deploy

SCRIPT = template_path("django/django_stack_precompress.py")


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("django_stack_precompress", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


precompress = load()
TEXT = b"".join(b".rule-%d { margin: %dpx; }\n" % (i, i) for i in range(200))


def test_text_files_get_a_gzip_copy_and_nothing_else_does(tmp_path: Path) -> None:
    files = {
        "app/site.0123456789ab.css": TEXT,
        "app/site.css": TEXT,
        "app/app.js": TEXT,
        "app/data.json": TEXT,
        "app/tiny.css": b"a{}",
        "app/photo.png": TEXT,  # already compressed in real life: never touched
        "app/archive.tar.gz": TEXT,
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    assert precompress.main(["precompress", str(tmp_path)]) == 0
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.gz"))
    assert made == [
        "app/app.js.gz",
        "app/archive.tar.gz",
        "app/data.json.gz",
        "app/site.0123456789ab.css.gz",
        "app/site.css.gz",
    ]
    copy = (tmp_path / "app/site.css.gz").read_bytes()
    assert gzip.decompress(copy) == TEXT and len(copy) < len(TEXT) / 5
    # No name and no time in the header: the same files give the same bytes (the image's
    # digest stays), and a second run changes nothing.
    assert copy[4:8] == b"\0\0\0\0" and not copy[3] & 0x08
    assert precompress.main(["precompress", str(tmp_path)]) == 0
    assert (tmp_path / "app/site.css.gz").read_bytes() == copy
    assert not (tmp_path / "app/site.css.gz.gz").exists()


def test_the_script_and_the_proxies_agree_on_what_is_text() -> None:
    assert precompress.EXTENSIONS == PRECOMPRESSED_EXTENSIONS
    types = mimetypes.MimeTypes(filenames=["/etc/mime.types"])
    for extension in PRECOMPRESSED_EXTENSIONS:
        media_type, _ = types.guess_type("file" + extension, strict=False)
        assert media_type in COMPRESSED_TYPES, (extension, media_type)


def test_the_build_and_the_vm_release_run_it_after_collectstatic() -> None:
    dockerfile = template_path("docker/app.Dockerfile").read_text()
    collect = dockerfile.index("collectstatic")
    run = dockerfile.index("django_stack_precompress.py /srv/static")
    assert collect < run
    assert dockerfile.index("COPY django_stack_settings.py django_stack_health.py") < collect
    vm = template_path("vm/collectstatic.sh").read_text()
    assert vm.index("collectstatic --noinput") < vm.index('django_stack_precompress.py "$next"')


def test_the_script_is_in_the_app_image_and_on_the_hosts() -> None:
    (app_image,) = [i for i in deploy().of_type(IMAGE) if i.name.endswith("app-image")]
    context = Path(app_image.inputs["build"]["context"])
    assert (context / "django_stack_precompress.py").read_bytes() == SCRIPT.read_bytes()
    app = PROJECT_DIR / "app"
    files = release_context(
        app_path=app,
        dependencies=detect_dependencies(app),
        app_server=None,
        extra_ca_bundle=None,
    ).files
    assert files["overlay/django_stack_precompress.py"] == SCRIPT.read_bytes()
