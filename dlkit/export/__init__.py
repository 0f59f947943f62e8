"""Getting a trained model out of dlkit in formats other tools load."""
