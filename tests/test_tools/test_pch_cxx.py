"""tools/pch_cxx.sh: the compiler wrapper of the mmcv ops build (tools/bootstrap.sh)."""
import os
import os.path as osp
import subprocess
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
WRAPPER = osp.join(REPO, 'tools', 'pch_cxx.sh')


def _fake_compiler(tmp_path, fail_header=False):
    """A stand-in compiler: logs each call's arguments and writes its -o target."""
    log = tmp_path / 'calls.log'
    fake = tmp_path / 'fake-cxx'
    fake.write_text(textwrap.dedent(f'''\
        #!/usr/bin/env bash
        echo "$*" >> {log}
        {'[[ " $* " == *" c++-header "* ]] && exit 1' if fail_header else ''}
        out=""; prev=""
        for a in "$@"; do [[ "$prev" == "-o" ]] && out="$a"; prev="$a"; done
        [[ -n "$out" ]] && echo obj > "$out"
        exit 0
        '''))
    fake.chmod(0o755)
    return fake, log


def _run(tmp_path, fake, *args):
    header = tmp_path / 'helper.hpp'
    header.touch()
    env = dict(os.environ, MMSELFDIS_REAL_CXX=str(fake), MMSELFDIS_PCH_HEADER=str(header))
    return subprocess.run(['bash', WRAPPER, *map(str, args)], env=env, capture_output=True,
                          text=True, check=True), header


def test_first_compile_precompiles_header_with_the_same_flags(tmp_path):
    fake, log = _fake_compiler(tmp_path)
    # The shape of a ninja compile line from torch's BuildExtension (note the doubled -c).
    compile_line = ['-MMD', '-MF', tmp_path / 'a.o.d', '-O3', '-g', '-Iinc', '-c', '-c',
                    tmp_path / 'a.cpp', '-o', tmp_path / 'a.o', '-std=c++20', '-O2', '-g0']
    _, header = _run(tmp_path, fake, *compile_line)
    calls = log.read_text().splitlines()
    assert len(calls) == 2, calls
    pch_call, real_call = calls
    # The header is built with every flag of the compile, minus source/object/dep file.
    assert pch_call.split() == ['-O3', '-g', '-Iinc', '-std=c++20', '-O2', '-g0', '-x', 'c++-header',
                                str(header), '-o', pch_call.split()[-1]]
    assert osp.isfile(f'{header}.gch')
    # The compile itself runs unchanged.
    assert real_call.split() == list(map(str, compile_line))

    # A second compile reuses the header: one call only.
    _run(tmp_path, fake, '-c', tmp_path / 'b.cpp', '-o', tmp_path / 'b.o')
    assert len(log.read_text().splitlines()) == 3


def test_link_passes_through(tmp_path):
    fake, log = _fake_compiler(tmp_path)
    _, header = _run(tmp_path, fake, '-shared', tmp_path / 'a.o', '-o', tmp_path / 'x.so')
    assert log.read_text().split() == ['-shared', str(tmp_path / 'a.o'), '-o', str(tmp_path / 'x.so')]
    assert not osp.exists(f'{header}.gch')


def test_failed_header_falls_back_to_plain_compiles(tmp_path):
    fake, log = _fake_compiler(tmp_path, fail_header=True)
    proc, header = _run(tmp_path, fake, '-c', tmp_path / 'a.cpp', '-o', tmp_path / 'a.o')
    assert 'compiling without it' in proc.stderr
    assert not osp.exists(f'{header}.gch') and osp.exists(f'{header}.gch.failed')
    _run(tmp_path, fake, '-c', tmp_path / 'b.cpp', '-o', tmp_path / 'b.o')
    # header tried once, then two plain compiles
    assert len(log.read_text().splitlines()) == 3
    assert (tmp_path / 'a.o').exists() and (tmp_path / 'b.o').exists()
