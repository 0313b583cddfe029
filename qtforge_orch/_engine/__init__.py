"""The one execution core shared by both orchestrators. Private: no public names live here."""
