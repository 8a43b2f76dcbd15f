from cong.cli import main

raise SystemExit(main())
