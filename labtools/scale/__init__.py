"""Scale out on Dask: many cases as tasks, resumable; big volumes block by block.

- :func:`dask_client` — the cluster to run on: a ``dask.distributed``
  scheduler by address (``--scheduler``, ``DASK_SCHEDULER_ADDRESS``), the
  client already open in this process, or a new local cluster (one
  single-threaded worker process per core, memory bounded per worker).
- :func:`run_cases` — one Dask task per case; results stream back as cases
  finish, each recorded at once in a :class:`CaseJournal` under the content
  hash of its inputs (:func:`content_hash`), so a rerun skips finished cases;
  a failing case is reported and the rest go on.
- Blockwise volumes: :func:`labtools.features.blockwise.blockwise_features`,
  :meth:`labtools.pixel_classifier.PixelClassifier.predict_blockwise`.

``labtools evaluate``, ``classify`` and ``predict`` run on these; docs/scale.md
has the recipes (SLURM with dask-jobqueue, dask-gateway, torchrun).
"""

from labtools.scale.cases import CaseResult, Case, run_cases
from labtools.scale.cluster import SYNCHRONOUS, dask_client
from labtools.scale.journal import CaseJournal, content_hash

__all__ = ["Case", "CaseResult", "CaseJournal", "content_hash", "dask_client", "run_cases", "SYNCHRONOUS"]
