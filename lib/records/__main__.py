"""``python -m lib.records speeches CORPUS OUT.jsonl [MAX_LEN]``: see lib.records.speeches.main."""

from lib.records.speeches import main

raise SystemExit(main())
