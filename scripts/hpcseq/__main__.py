from hpcseq.cli import main

raise SystemExit(main())
