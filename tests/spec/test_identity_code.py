"""What of the user's code and files goes into a spec's identity (scrutiny.spec.identity.code_digests): which
modules are followed, which are not, which files are hashed, and the errors, each one line naming file and key."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from scrutiny.errors import SpecError
from scrutiny.registry import DATASETS, MODELS
from scrutiny.spec import identity, load_spec, spec_hash
from scrutiny.spec.identity import code_digests, identity_dict

DATA = "data: {name: synthetic, channels: 1, size: 4, n_train: 8, n_test: 8}\n"
BUILDER = "def cnn(num_classes: int = 10):\n    return None\n"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A clean import path and module table for the packages a test writes (all named ``idc*``)."""
    monkeypatch.setattr(sys, "path", list(sys.path))

    def forget():
        for name in [m for m in sys.modules if m.startswith("idc")]:
            del sys.modules[name]

    forget()
    yield tmp_path
    forget()


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec_file(root: Path, model: str, extra: str = "") -> Path:
    path = root / "spec.yaml"
    path.write_text(f"model: {{name: '{model}'{extra}}}\n" + DATA)
    return path


def test_built_in_and_prefixed_names_add_nothing():
    assert MODELS.user_module("small_cnn") is None
    assert MODELS.user_module("torchvision:resnet18") is None
    assert MODELS.user_module("scrutiny.models.small:small_cnn") is None
    assert MODELS.user_module("mylab.nets:cnn") == "mylab.nets"
    spec = load_spec(data={"model": {"name": "small_cnn"}, "data": {"name": "digits"}})
    assert code_digests(spec) == {} and "code" not in identity_dict(spec)


def test_a_package_is_followed_through_its_own_imports_and_no_further(folder):
    write(
        folder,
        {
            "idcpkg/__init__.py": "",
            "idcpkg/nets.py": "import os\nimport numpy\nfrom . import blocks\nfrom .sub.deep import x\n" + BUILDER,
            "idcpkg/blocks.py": "from idcpkg.util import helper\n",
            "idcpkg/util.py": "helper = 1\n",
            "idcpkg/sub/__init__.py": "",
            "idcpkg/sub/deep.py": "x = 1\n",
            "idcpkg/unused.py": "nobody imports me\n",
        },
    )
    code = code_digests(load_spec(spec_file(folder, "idcpkg.nets:cnn")))
    names = ["idcpkg", "idcpkg.blocks", "idcpkg.nets", "idcpkg.sub", "idcpkg.sub.deep", "idcpkg.util"]
    assert list(code["modules"]) == names
    assert code["modules"]["idcpkg.nets"] == sha(folder / "idcpkg/nets.py")


def test_a_top_level_module_follows_the_modules_beside_it(folder):
    write(folder, {"idctop.py": "import json\nimport idchelp\n" + BUILDER, "idchelp.py": "y = 2\n"})
    code = code_digests(load_spec(spec_file(folder, "idctop:cnn")))
    assert code == {"modules": {"idchelp": sha(folder / "idchelp.py"), "idctop": sha(folder / "idctop.py")}}


def test_a_callable_defined_in_another_package_adds_that_module_only(folder):
    write(
        folder,
        {
            "idcown/__init__.py": "",
            "idcown/nets.py": "from idcother.impl import cnn\n",
            "idcother/__init__.py": "",
            "idcother/impl.py": "from idcother import more\n" + BUILDER,
            "idcother/more.py": "",
        },
    )
    modules = code_digests(load_spec(spec_file(folder, "idcown.nets:cnn")))["modules"]
    assert sorted(modules) == ["idcother.impl", "idcown", "idcown.nets"]


def test_an_installed_package_is_identified_by_its_named_module_alone(folder):
    site = folder / "lib" / "site-packages"
    write(site, {"idcinst/__init__.py": "", "idcinst/nets.py": "from . import big\n" + BUILDER, "idcinst/big.py": ""})
    sys.path.append(str(site))
    modules = code_digests(load_spec(spec_file(folder, "idcinst.nets:cnn")))["modules"]
    assert modules == {"idcinst.nets": sha(site / "idcinst/nets.py")}


def test_files_named_by_path_are_hashed_and_folders_are_not(folder, monkeypatch):
    write(
        folder,
        {
            "idcdata.py": (
                "from scrutiny.data.synthetic import synthetic\n"
                "def load(*, root=None, path: str = '', label_file: str = '', n: int = 8):\n"
                "    return synthetic(n_train=n, n_test=n, size=4, channels=1)\n"
            ),
            "x.npz": "x",
            "labels.txt": "a",
            "w.pt": "w",
        },
    )
    (folder / "images").mkdir()
    path = folder / "spec.yaml"
    path.write_text(
        "model: {name: small_cnn, weights: w.pt}\n"
        "data: {name: 'idcdata:load', root: images, path: x.npz, label_file: labels.txt}\n"
    )
    monkeypatch.chdir(folder)  # paths are relative to the working folder, as when the trial reads them
    files = code_digests(load_spec(path))["files"]
    assert files == {"model.weights": sha(folder / "w.pt"), "data.path": sha(folder / "x.npz"),
                     "data.label_file": sha(folder / "labels.txt")}  # fmt: skip
    assert DATASETS.user_module("idcdata:load") == "idcdata"


def test_an_unreadable_weights_file_is_one_line_naming_the_file_and_key(folder, monkeypatch):
    write(folder, {"w.pt": "weights"})
    path = folder / "spec.yaml"
    path.write_text(f"model: {{name: small_cnn, weights: {folder / 'w.pt'}}}\n{DATA}")

    def refuse(file, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(identity, "open", refuse, raising=False)
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert str(exc.value) == f"{path}: model.weights: cannot read {folder / 'w.pt'}: Permission denied"


def test_digests_are_cached_by_path_and_modification_time(folder, monkeypatch):
    write(folder, {"idccache.py": BUILDER})
    spec = load_spec(spec_file(folder, "idccache:cnn"))
    h = spec_hash(spec)
    opened = []
    real = open

    def counting(file, *args, **kwargs):
        opened.append(file)
        return real(file, *args, **kwargs)

    monkeypatch.setattr(identity, "open", counting, raising=False)
    assert spec_hash(spec) == h and opened == []  # nothing read again
    (folder / "idccache.py").write_text(BUILDER + "# edited\n")
    assert spec_hash(spec) != h and len(opened) == 1


def test_the_spec_folder_is_appended_to_the_import_path_once(folder):
    write(folder, {"idcpath.py": BUILDER})
    entries = len(sys.path)
    load_spec(spec_file(folder, "idcpath:cnn"))
    load_spec(spec_file(folder, "idcpath:cnn"))
    assert sys.path[entries:] == [str(folder.resolve())]
