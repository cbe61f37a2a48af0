"""Execute one notebook: ``python docs/hooks/run_notebook.py NOTEBOOK OUT_DIR``.

Runs every cell in a fresh kernel started in the notebook's folder (a cell that raises stops it
with exit 1 and the cell's traceback on stderr) and writes the executed notebook, outputs
included, to ``OUT_DIR/<same name>``. The ``notebooks`` hook runs this in a child process.
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TIMEOUT_S = 600  # per cell


def main(notebook, out_dir):
    path = Path(notebook).resolve()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
        # ipykernel warns on every start that its local TCP sockets are unencrypted: noise here.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    try:
        client.execute()
    except CellExecutionError as error:
        sys.exit(f"{path.name}: a cell raised\n{error}")
    out = Path(out_dir) / path.name
    nbformat.write(nb, out)
    print(out.name)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python docs/hooks/run_notebook.py NOTEBOOK OUT_DIR")
    main(sys.argv[1], sys.argv[2])
