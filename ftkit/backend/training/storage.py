"""Saving and loading models: numpy `.npz` archives (no pickle), written atomically.

An archive holds plain arrays plus one JSON metadata entry (`meta`): the kind of head, the base
model, the data format, the feature settings, and per head its learned state — the classifier's
non-zero weight rows, classes and intercepts; the retrieval model's memory (CSR arrays),
completion tokens, β and background counts. Writing goes to a temporary file in the same folder,
renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.features import PromptVectorizer
from ftkit.backend.training.heads import ClassifierHead, RetrievalHead
from ftkit.backend.training.lm import UnigramLM
from ftkit.backend.training.model import BACKGROUND_ALPHA, PROMPT_LM_ALPHA, CompletionModel
from ftkit.backend.training.retrieval import RetrievalGenerator
from ftkit.data.tokens import encoding_name, get_encoding

FORMAT_VERSION = 1


def save_model(model: CompletionModel, path: Path) -> Path:
    """Write a model to `path` (.npz) atomically; returns `path`."""
    ids, counts = model.prompt_lm.sparse()
    frequency = model.vectorizer.document_frequency_
    columns = np.flatnonzero(frequency)
    meta: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "kind": model.kind,
        "base_model": model.base_model,
        "format": model.data_format,
        "n_features": model.vectorizer.n_features,
        "n_documents": model.vectorizer.n_documents_,
    }
    arrays: dict[str, Any] = {
        "prompt_ids": ids,
        "prompt_counts": counts,
        "df_columns": columns,
        "df_values": frequency[columns],
    }
    if isinstance(model.head, ClassifierHead):
        estimator = model.head.estimator
        weights, intercept = estimator.parameters()  # the model as it answers (averaged)
        rows = np.flatnonzero(np.any(weights != 0, axis=1))
        meta |= {"labels": model.head.labels, "n_steps": estimator.n_steps_}
        arrays |= {
            "weight_rows": rows,
            "weight_values": weights[rows],
            "intercept": intercept,
        }
    else:
        generator = model.head.generator
        bg_ids, bg_counts = generator.background.lm.sparse()
        meta |= {"beta": generator.beta}
        arrays |= {
            "memory_data": generator.memory.data,
            "memory_indices": generator.memory.indices,
            "memory_indptr": generator.memory.indptr,
            "memory_targets": generator.targets,
            "completion_tokens": np.concatenate([*generator.completions, np.zeros(0, np.int64)]),
            "completion_lengths": np.array([len(c) for c in generator.completions], np.int64),
            "background_ids": bg_ids,
            "background_counts": bg_counts,
        }
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: Path) -> CompletionModel:
    """Load a model saved by `CompletionModel.save` (no pickle involved)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["meta"]))
    encoding = get_encoding(encoding_name(meta["base_model"]))
    prompt_lm = UnigramLM.from_sparse(
        encoding.n_vocab, PROMPT_LM_ALPHA, arrays["prompt_ids"], arrays["prompt_counts"]
    )
    vectorizer = PromptVectorizer(encoding.name, meta["n_features"]).fit([])
    vectorizer.document_frequency_[arrays["df_columns"]] = arrays["df_values"]
    vectorizer.n_documents_ = meta["n_documents"]
    head: ClassifierHead | RetrievalHead
    if meta["kind"] == "classifier":
        estimator = SoftmaxSGDClassifier()
        estimator.classes_ = np.array(meta["labels"])
        estimator.weights_ = np.zeros((meta["n_features"], len(meta["labels"])), np.float32)
        estimator.weights_[arrays["weight_rows"]] = arrays["weight_values"]
        estimator.intercept_ = arrays["intercept"]
        estimator.n_steps_ = meta["n_steps"]
        head = ClassifierHead(estimator, encoding)
    else:
        lengths = arrays["completion_lengths"]
        completions = np.split(arrays["completion_tokens"], np.cumsum(lengths)[:-1])
        memory = sp.csr_matrix(
            (arrays["memory_data"], arrays["memory_indices"], arrays["memory_indptr"]),
            shape=(len(arrays["memory_indptr"]) - 1, meta["n_features"]),
        )
        background = UnigramLM.from_sparse(
            encoding.n_vocab,
            BACKGROUND_ALPHA,
            arrays["background_ids"],
            arrays["background_counts"],
        )
        generator = RetrievalGenerator(
            memory,
            arrays["memory_targets"],
            completions if len(lengths) else [],
            background,
            meta["beta"],
        )
        head = RetrievalHead(generator)
    return CompletionModel(meta["base_model"], meta["format"], vectorizer, prompt_lm, head)
