from cong.cli.main import main

raise SystemExit(main())
