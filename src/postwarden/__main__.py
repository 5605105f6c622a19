from postwarden.cli import main

main()
