// DenseNet and SE-DenseNet builders.
