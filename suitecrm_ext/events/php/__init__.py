"""PHP templates of the generated SuiteCRM logic hook (package data)."""
