from pjobs.cli import main

main()
