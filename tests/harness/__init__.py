"""Test harnesses and factories (a real airlock, hub, pages client, files), outside the
shipped packages: nothing under statbarn/, tre/ or airlock/ imports pytest or these."""
