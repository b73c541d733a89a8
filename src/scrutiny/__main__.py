from scrutiny.cli import main

main()
