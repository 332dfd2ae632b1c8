"""Datasets (torchvision MNIST/FashionMNIST from a local folder or download) and spike encoders."""
