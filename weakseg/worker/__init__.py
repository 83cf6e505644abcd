"""The worker: heavy work (inference, training, export) in its own process.

Slicer starts ``python -m weakseg.worker JOB.json``; the worker reads the job, runs it and
streams one JSON object per line on stdout (see ``protocol``). Slicer stays responsive,
a crash or out-of-memory in the job cannot take the application down, and cancelling is
simply ending the worker's process group (``client.WorkerClient.cancel``). Outputs are
written atomically, so a killed job leaves no half-written file.
"""

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 2, 3, 130
