from obs.cli import main

raise SystemExit(main())
