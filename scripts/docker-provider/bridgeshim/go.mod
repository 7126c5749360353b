module github.com/terraform-providers/terraform-provider-docker/bridgeshim

go 1.25.11

require github.com/terraform-providers/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4

replace github.com/terraform-providers/terraform-provider-docker => github.com/kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4
