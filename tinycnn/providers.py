"""Execution providers, as onnxruntime names them: tinycnn has one, the CPU.

Code written for onnxruntime asks for providers by name.  A provider onnxruntime knows but
this build does not have (CUDA, TensorRT...) is skipped with a warning, as onnxruntime skips
a provider its build lacks, so ["CUDAExecutionProvider", "CPUExecutionProvider"] runs on the
CPU.  A name onnxruntime does not know either is an error ("Unknown Provider Type").
"""
import collections.abc
import warnings

from .errors import RuntimeInvalidArgument

CPU = "CPUExecutionProvider"

# The providers onnxruntime knows of (onnxruntime.get_all_providers() of its 1.2x releases).
KNOWN_PROVIDERS = (
    "TensorrtExecutionProvider", "NvTensorRTRTXExecutionProvider", "CUDAExecutionProvider",
    "MIGraphXExecutionProvider", "ROCMExecutionProvider", "OpenVINOExecutionProvider",
    "DnnlExecutionProvider", "VitisAIExecutionProvider", "QNNExecutionProvider",
    "NnapiExecutionProvider", "VSINPUExecutionProvider", "JsExecutionProvider",
    "CoreMLExecutionProvider", "ArmNNExecutionProvider", "ACLExecutionProvider",
    "DmlExecutionProvider", "RknpuExecutionProvider", "WebNNExecutionProvider",
    "WebGpuExecutionProvider", "XnnpackExecutionProvider", "CANNExecutionProvider",
    "AzureExecutionProvider", CPU,
)


def get_available_providers():
    """The providers this build can run: the CPU only."""
    return [CPU]


def get_all_providers():
    """Every provider name onnxruntime knows (names outside it are refused as unknown)."""
    return list(KNOWN_PROVIDERS)


def get_device():
    return "CPU"


def select(providers, provider_options=None):
    """Check `providers` as onnxruntime does and return the names of those to use.

    Warns (UserWarning) for each known provider that is not available and for duplicates;
    raises RuntimeInvalidArgument naming an unknown provider; ValueError for a malformed
    argument.  Without providers, or when none is available, the CPU is used.
    """
    if providers is None:
        return [CPU]
    if isinstance(providers, str):
        raise ValueError(f"'providers' should be a sequence of names, got the string "
                         f"{providers!r} (write [{providers!r}])")
    if not isinstance(providers, collections.abc.Sequence):
        raise ValueError(f"'providers' should be a sequence, got {type(providers).__name__}")
    if provider_options is not None:
        if not isinstance(provider_options, collections.abc.Sequence):
            raise ValueError("'provider_options' should be a sequence.")
        if len(providers) != len(provider_options):
            raise ValueError(f"'providers' and 'provider_options' should be the same length if "
                             f"both are given ({len(providers)} and {len(provider_options)}).")
        if not all(isinstance(p, str) for p in providers):
            raise ValueError("Only string values for 'providers' are supported if "
                             "'provider_options' is given.")
        if not all(isinstance(o, dict) for o in provider_options):
            raise ValueError("'provider_options' values must be dicts.")
        pairs = list(zip(providers, provider_options))
    else:
        pairs = []
        for p in providers:
            if isinstance(p, str):
                pairs.append((p, {}))
            elif (isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
                  and isinstance(p[1], dict)):
                pairs.append(p)
            else:
                raise ValueError(f"'providers' values must be either strings or (string, dict) "
                                 f"tuples, got {p!r}.")
    chosen, seen = [], set()
    for name, _options in pairs:
        if name not in get_available_providers():
            warnings.warn(f"Specified provider '{name}' is not in available provider names. "
                          f"Available providers: '{', '.join(get_available_providers())}'",
                          stacklevel=4)
        if name in seen:
            warnings.warn(f"Duplicate provider '{name}' encountered, ignoring.", stacklevel=4)
            continue
        seen.add(name)
        if name not in KNOWN_PROVIDERS:
            raise RuntimeInvalidArgument(f"Unknown Provider Type: {name} (get_all_providers() "
                                         "lists the names onnxruntime knows)")
        if name == CPU:
            chosen.append(name)   # the CPU provider has no options that apply here
    return chosen or [CPU]
