"""ShareCoresHook: fewer threads until another process's file appears, then all again."""
import logging

import pytest
import torch

from mmselfdis.engine.hooks import ShareCoresHook


class _Runner:
    def __init__(self):
        self.iter = 0
        self.messages = []
        self.logger = logging.getLogger('test_share_cores_hook')
        self.logger.info = self.messages.append


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_share_cores_hook_gives_up_threads_until_the_file_exists(tmp_path, two_threads):
    done = tmp_path / 'judge.pth'
    hook, runner = ShareCoresHook(str(done), threads=1), _Runner()
    hook.before_train(runner)
    assert torch.get_num_threads() == 1 and hook.sharing
    assert runner.messages == [f'ShareCoresHook: training with 1 of 2 threads until {done} '
                               'exists']
    for runner.iter in range(3):
        hook.before_train_iter(runner, runner.iter)
        assert torch.get_num_threads() == 1
    done.write_bytes(b'weights')
    runner.iter = 3
    hook.before_train_iter(runner, 3)
    assert torch.get_num_threads() == 2 and not hook.sharing
    assert runner.messages[-1] == (f'ShareCoresHook: {done} exists: training with 2 threads '
                                   'from iteration 4')
    hook.before_train_iter(runner, 4)
    hook.after_train(runner)
    assert torch.get_num_threads() == 2 and len(runner.messages) == 2


def test_share_cores_hook_leaves_the_threads_when_there_is_nothing_to_share(tmp_path,
                                                                           two_threads):
    done = tmp_path / 'judge.pth'
    runner = _Runner()
    ShareCoresHook(str(done), threads=2).before_train(runner)  # as many as it has
    assert torch.get_num_threads() == 2 and not runner.messages
    done.write_bytes(b'weights')  # the other process finished before the training started
    ShareCoresHook(str(done), threads=1).before_train(runner)
    assert torch.get_num_threads() == 2 and not runner.messages
    # a training that ends while sharing leaves the process with its threads
    hook = ShareCoresHook(str(tmp_path / 'never'), threads=1)
    hook.before_train(runner)
    assert torch.get_num_threads() == 1
    hook.after_train(runner)
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match='threads must be >= 1'):
        ShareCoresHook(str(done), threads=0)
    with pytest.raises(ValueError, match='until_exists must name the file'):
        ShareCoresHook('', threads=1)
