from gb10dash.cli import main

raise SystemExit(main())
