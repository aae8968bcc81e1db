/** Fashion-MNIST's classes, in label order, and its image size. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export const FASHION_MNIST_ROWS = 28;
export const FASHION_MNIST_COLS = 28;
