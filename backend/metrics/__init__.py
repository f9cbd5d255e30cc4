"""Quality metrics of generated crystals: validity, uniqueness, novelty, batch rates, composition statistics."""
