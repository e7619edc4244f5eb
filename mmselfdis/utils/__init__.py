from .checkpoint import (CheckpointLoadError, load_model, mmengine_safe_globals,
                         register_safe_globals, safe_load_checkpoint)
from .cli import (ConfigError, check_custom_imports, explain_error, run_cli, setup_launcher,
                  shutdown_distributed)

register_safe_globals()

__all__ = [
    'CheckpointLoadError', 'mmengine_safe_globals', 'register_safe_globals',
    'safe_load_checkpoint', 'load_model', 'ConfigError', 'check_custom_imports', 'explain_error',
    'setup_launcher', 'run_cli', 'shutdown_distributed'
]
