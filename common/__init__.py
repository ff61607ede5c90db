"""Everything the two imagedb front scripts share; each backend script adds only its store."""
