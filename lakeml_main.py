"""The script spark-submit runs (locally and on EMR): `spark-submit lakeml_main.py JOB [flags]`.

It lives at the top of the tree, beside the `jobs` and `features` packages (or beside the
zip that carries them on EMR), so nothing in its folder can shadow a standard module.
"""

import sys

from jobs.main import main

if __name__ == "__main__":
    sys.exit(main())
