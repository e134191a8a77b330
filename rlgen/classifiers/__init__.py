"""Fashion-MNIST classifiers (MLPs and CNNs from a list of layers), optionally on pretrained lower layers."""
