from .monochrome import ToMonochrome

__all__ = ['ToMonochrome']
