"""The global neural forecaster's core: train one torch model across tickers, predict quantiles.

Inputs are windows of features ending at a forecast origin, either explicit arrays (`fit(X (n, window, f), y
(n, H))`) or a feature cube with (row, ticker) window ends (`fit_panel(feats (T, N, f), targets (T, N, H),
rows, cols)`), which builds each batch's windows on the device instead of materialising them all. Targets are
h-session forward log returns (NaN where unknown: masked out of the loss). The model predicts, per horizon,
return quantiles (pinball loss) and P(up) (binary cross-entropy).

Features are standardised with the training data's mean and standard deviation
(clipped to +-5, missing -> 0); targets are divided by their training standard
deviation per horizon. Training is seeded (weights, dropout, shuffling) and does
not touch torch's global RNG; on CUDA it runs under autocast (bf16, or fp16 with a
gradient scaler). torch is imported inside functions only.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.config_model import model_class
from engine.device import DeviceInfo, select_device
from engine.errors import InputError, UsageError

if TYPE_CHECKING:
    import torch

CLIP = 5.0
_THREADS_LOCK = threading.Lock()
_TRAIN_LOCK = threading.Lock()
_THREADS_DEPTH = [0, 0]  # scopes open, torch's thread count before the first
PREDICT_BATCH = 16384


_NEURAL = model_class("neural")()  # the shipped [neural] table: every default below comes from it


@dataclass(frozen=True)
class NeuralConfig:
    """Hyper-parameters of the network and its training (the [neural] config section).

    Defaults are config/default.toml's [neural] values (see there for each key's
    meaning), never re-declared here; `seed` and `device` are set by the caller.
    """

    arch: str = _NEURAL.arch  # "transformer" | "tcn" | "auto" (transformer on CUDA, tcn on the CPU)
    window: int = _NEURAL.window
    width: int = _NEURAL.width
    layers: int = _NEURAL.layers
    kernel: int = _NEURAL.kernel
    encoder_layers: int = _NEURAL.encoder_layers
    heads: int = _NEURAL.heads
    dropout: float = _NEURAL.dropout
    epochs: int = _NEURAL.epochs
    batch_size: int = _NEURAL.batch_size
    lr: float = _NEURAL.lr
    weight_decay: float = _NEURAL.weight_decay
    quantiles: tuple[float, ...] = tuple(_NEURAL.quantiles)
    direction_weight: float = _NEURAL.direction_weight
    max_windows: int = _NEURAL.max_windows
    amp: bool = _NEURAL.amp
    threads: int = _NEURAL.threads
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **extra: Any) -> NeuralConfig:
        """Build from a config section (unknown keys ignored) plus keyword overrides."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in {**dict(values), **extra}.items() if k in names}
        if "quantiles" in kw:
            kw["quantiles"] = tuple(float(q) for q in kw["quantiles"])
        return cls(**kw).validated()

    def validated(self) -> NeuralConfig:
        from engine.gpu.nets import ARCHS

        if self.arch != "auto" and self.arch not in ARCHS:
            raise UsageError(f"unknown neural arch {self.arch!r}", f"use auto or one of {', '.join(ARCHS)}")
        qs = self.quantiles
        if not qs or any(not 0 < q < 1 for q in qs) or list(qs) != sorted(set(qs)):
            raise UsageError(f"neural quantiles must be increasing and inside (0, 1), got {list(qs)}")
        if min(self.window, self.width, self.layers, self.encoder_layers, self.epochs, self.batch_size) < 1:
            raise UsageError("neural window, width, layers, encoder_layers, epochs and batch_size must be positive")
        if self.arch in ("transformer", "auto") and self.width % self.heads:
            raise UsageError(f"neural width {self.width} must be a multiple of heads {self.heads}")
        return self


class _Source:
    """Training/prediction windows living on the device."""

    n: int

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError


class _ArraySource(_Source):
    def __init__(self, x: np.ndarray, y: np.ndarray | None, dev: torch.device) -> None:
        import torch

        self.x = torch.as_tensor(x, device=dev)
        self.y = None if y is None else torch.as_tensor(y, device=dev)
        self.n = x.shape[0]

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.x[idx], None if self.y is None else self.y[idx]


class _PanelSource(_Source):
    """Windows cut from a (T, N, F) cube: the window ending at (row, col) is cube[row-W+1 : row+1, col]."""

    def __init__(
        self,
        feats: np.ndarray,
        targets: np.ndarray | None,
        rows: np.ndarray,
        cols: np.ndarray,
        window: int,
        dev: torch.device,
    ) -> None:
        import torch

        pad = np.zeros((window - 1, *feats.shape[1:]), dtype=np.float32)  # zero = the training mean
        self.feats = torch.as_tensor(np.concatenate([pad, feats]), device=dev)
        self.targets = None if targets is None else torch.as_tensor(targets, device=dev)
        self.rows = torch.as_tensor(rows, dtype=torch.long, device=dev)
        self.cols = torch.as_tensor(cols, dtype=torch.long, device=dev)
        self.offsets = torch.arange(window, device=dev)  # padded row of (row - W + 1) is row
        self.n = int(rows.shape[0])

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        r, c = self.rows[idx], self.cols[idx]
        x = self.feats[r[:, None] + self.offsets, c[:, None]]
        return x, None if self.targets is None else self.targets[r, c]


class NeuralNet:
    """One global network; fitted attributes end with `_`.

    Attributes (after fit):
        mean_, std_: (F,) feature standardisation. y_scale_: (H,) target scales.
        model_: the torch module. device_: where it lives. history_: loss per epoch.
    """

    def __init__(self, config: NeuralConfig | None = None) -> None:
        self.config = (config or NeuralConfig()).validated()
        self.model_: Any = None

    # -- preparation -----------------------------------------------------------------

    def _scale_features(self, a: np.ndarray) -> np.ndarray:
        out = (np.asarray(a, dtype=np.float32) - self.mean_) / self.std_
        np.clip(out, -CLIP, CLIP, out=out)
        out[~np.isfinite(out)] = 0.0
        return out

    def _fit_scales(self, feats: np.ndarray, y: np.ndarray) -> None:
        flat = np.asarray(feats, dtype=np.float64).reshape(-1, feats.shape[-1])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column scales to (0, 1)
            mean = np.nanmean(np.where(np.isfinite(flat), flat, np.nan), axis=0)
            std = np.nanstd(np.where(np.isfinite(flat), flat, np.nan), axis=0)
            ys = np.nanstd(np.where(np.isfinite(y), y, np.nan), axis=0)
        self.mean_ = np.nan_to_num(mean).astype(np.float32)
        self.std_ = np.where(np.isfinite(std) & (std > 0), std, 1.0).astype(np.float32)
        self.y_scale_ = np.where(np.isfinite(ys) & (ys > 0), ys, 1.0).astype(np.float32)

    # -- public API ------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray) -> NeuralNet:
        """Train on explicit windows X (n, window, F) with targets y (n, H) (NaN = unknown)."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32).reshape(X.shape[0], -1)
        if X.ndim != 3 or X.shape[0] < 1:
            raise InputError(f"neural fit needs X of shape (n, window, features); got {X.shape}")
        self._fit_scales(X, y)
        info = select_device(self.config.device)
        src = _ArraySource(self._scale_features(X), y, self._torch_device(info))
        return self._train(src, X.shape[2], y.shape[1], info)

    def fit_panel(self, feats: np.ndarray, targets: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> NeuralNet:
        """Train on windows of a (T, N, F) cube ending at (rows[k], cols[k]); targets (T, N, H).

        Only targets at the given (row, col) pairs are used; the caller guarantees that
        each one matured on or before the training cutoff.
        """
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        if rows.size == 0:
            raise InputError("neural fit got no training windows", "give it more history")
        last = int(rows.max()) + 1
        self._fit_scales(feats[:last], targets[rows, cols])
        info = select_device(self.config.device)
        y = np.where(np.isfinite(targets), targets, np.nan).astype(np.float32)
        src = _PanelSource(self._scale_features(feats), y, rows, cols, self.config.window, self._torch_device(info))
        return self._train(src, feats.shape[-1], targets.shape[-1], info)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quantiles (n, H, Q) of h-session log returns and P(up) (n, H) for windows X."""
        self._check_fitted()
        src = _ArraySource(self._scale_features(X), None, self._dev)
        return self._predict(src)

    def predict_panel(self, feats: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`predict` for windows of a feature cube ending at (rows[k], cols[k])."""
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        # Standardise only the rows the windows read (inference reads `window` rows, not T).
        lo = max(0, int(rows.min()) - self.config.window + 1) if rows.size else 0
        part = feats[lo : int(rows.max()) + 1] if rows.size else feats[:0]
        src = _PanelSource(self._scale_features(part), None, rows - lo, np.asarray(cols), self.config.window, self._dev)
        return self._predict(src)

    # -- torch -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise UsageError("the neural model is not fitted", "call fit first")

    @staticmethod
    def _torch_device(info: DeviceInfo) -> torch.device:
        import torch

        return torch.device(info.name)

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if not (self._dev.type == "cuda" and self.config.amp):
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self._amp_dtype)

    def _threads(self) -> Any:
        """Temporarily set torch's CPU thread count (small models gain nothing from more)."""
        import contextlib

        import torch

        @contextlib.contextmanager
        def scope() -> Any:
            # A fit on the forecast stage's background thread can overlap a prediction. The
            # count is set in every thread that enters (OpenMP keeps it per thread); the last
            # scope out restores the count from before the first one in (never mid-fit).
            with _THREADS_LOCK:
                if _THREADS_DEPTH[0] == 0:
                    _THREADS_DEPTH[1] = torch.get_num_threads()
                _THREADS_DEPTH[0] += 1
                if self.config.threads > 0:
                    torch.set_num_threads(self.config.threads)
            try:
                yield
            finally:
                with _THREADS_LOCK:
                    _THREADS_DEPTH[0] -= 1
                    if _THREADS_DEPTH[0] == 0:
                        torch.set_num_threads(_THREADS_DEPTH[1])

        return scope()

    def _train(self, src: _Source, n_features: int, n_horizons: int, info: DeviceInfo) -> NeuralNet:
        # Training seeds and draws torch's global RNG (fork_rng): two at once in one process
        # (a background refit beside another engine's) would interleave their draws.
        with _TRAIN_LOCK, self._threads():
            return self._train_inner(src, n_features, n_horizons, info)

    def _train_inner(self, src: _Source, n_features: int, n_horizons: int, info: DeviceInfo) -> NeuralNet:
        import torch

        from engine.gpu.nets import ARCHS, direction_loss, pinball

        cfg = self.config
        dev = self._dev = self._torch_device(info)
        self.device_ = info.name
        # "auto": the transformer forecasts a little better, the TCN trains ~4x faster on a CPU.
        self.arch_ = cfg.arch if cfg.arch != "auto" else ("transformer" if dev.type == "cuda" else "tcn")
        self._amp_dtype = torch.bfloat16
        if dev.type == "cuda" and not torch.cuda.is_bf16_supported():
            self._amp_dtype = torch.float16
        rng = np.random.default_rng(cfg.seed)
        use = np.arange(src.n)
        if cfg.max_windows and src.n > cfg.max_windows:
            use = np.sort(rng.choice(src.n, cfg.max_windows, replace=False))
        steps_per_epoch = max(1, -(-use.size // cfg.batch_size))
        fork_devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(cfg.seed)
            model = self._build(ARCHS, n_features, n_horizons).to(dev)
            opt = torch.optim.AdamW(
                model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=dev.type == "cuda"
            )
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps_per_epoch * cfg.epochs)
            scaler = torch.amp.GradScaler(
                "cuda", enabled=dev.type == "cuda" and cfg.amp and self._amp_dtype == torch.float16
            )
            taus = torch.tensor(cfg.quantiles, device=dev)
            y_scale = torch.as_tensor(self.y_scale_, device=dev)
            self.history_: list[float] = []
            model.train()
            for _ in range(cfg.epochs):
                order = torch.as_tensor(rng.permutation(use), device=dev)
                total = torch.zeros((), device=dev)
                for b in range(steps_per_epoch):
                    idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                    x, y = src.batch(idx)
                    assert y is not None  # a training source always carries targets
                    mask = torch.isfinite(y).float()
                    yz = torch.nan_to_num(y) / y_scale
                    with self._autocast():
                        q, logit = model(x)
                    loss = pinball(q.float(), yz, taus, mask) + cfg.direction_weight * direction_loss(
                        logit.float(), yz, mask
                    )
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    scaler.step(opt)
                    scaler.update()
                    sched.step()
                    total += loss.detach()
                self.history_.append(float(total) / steps_per_epoch)
        model.eval()
        self.model_ = model
        return self

    def _predict(self, src: _Source) -> tuple[np.ndarray, np.ndarray]:
        import torch

        qs, ps = [], []
        scale = torch.as_tensor(self.y_scale_, device=self._dev)
        with self._threads(), torch.inference_mode():
            for start in range(0, src.n, PREDICT_BATCH):
                idx = torch.arange(start, min(start + PREDICT_BATCH, src.n), device=self._dev)
                x, _ = src.batch(idx)
                with self._autocast():
                    q, logit = self.model_(x)
                qs.append((q.float() * scale[None, :, None]).double().cpu())
                ps.append(torch.sigmoid(logit.float()).double().cpu())
        if not qs:
            h, nq = self.y_scale_.shape[0], len(self.config.quantiles)
            return np.empty((0, h, nq)), np.empty((0, h))
        return torch.cat(qs).numpy(), torch.cat(ps).numpy()

    # -- pickling (the forecast stage stores fitted models in the database) ---------------

    def __getstate__(self) -> dict[str, Any]:
        """Weights travel as CPU tensors, so a model fitted on CUDA loads on a CPU-only box."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("model_", "_dev", "_amp_dtype")}
        if self.model_ is not None:
            state["weights_"] = {k: v.detach().cpu() for k, v in self.model_.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("weights_", None)
        self.__dict__.update(state)
        self.model_ = None
        if weights is None:
            return
        import torch

        from engine.gpu.nets import ARCHS

        want = self.config.device
        info = select_device(want if want == "cpu" or torch.cuda.is_available() else "cpu")
        self._dev = self._torch_device(info)
        self.device_ = info.name
        self._amp_dtype = torch.bfloat16
        if self._dev.type == "cuda" and not torch.cuda.is_bf16_supported():
            self._amp_dtype = torch.float16
        model = self._build(ARCHS, self.mean_.shape[0], self.y_scale_.shape[0])
        model.load_state_dict(weights)
        self.model_ = model.to(self._dev).eval()

    def _build(self, archs: Mapping[str, Any], n_features: int, n_horizons: int) -> Any:
        cfg = self.config
        layers = cfg.encoder_layers if self.arch_ == "transformer" else cfg.layers
        return archs[self.arch_](
            n_features,
            n_horizons,
            len(cfg.quantiles),
            width=cfg.width,
            layers=layers,
            kernel=cfg.kernel,
            heads=cfg.heads,
            dropout=cfg.dropout,
            window=cfg.window,
        )

    def with_config(self, **changes: Any) -> NeuralNet:
        """An unfitted copy with some hyper-parameters changed."""
        return NeuralNet(replace(self.config, **changes))
