// Optional (enableApiManagement): API Management in front of the Function App. It forwards every
// /api/v1 call with its bearer token (Herald validates tokens itself) and adds a per-client-IP rate
// limit and a body-size limit at the edge. Herald's own limits stay in force behind it.

param name string
param location string
param tags object
param publisherEmail string
param publisherName string
@allowed([
  'BasicV2'
  'StandardV2'
  'Developer'
  'Basic'
  'Standard'
  'Premium'
])
@description('rate-limit-by-key is not available on the Consumption tier.')
param sku string
@description('Base URL of the Function App, e.g. https://<app>.azurewebsites.net.')
param backendUrl string
@description('Calls one client IP may make per renewal period.')
param rateLimitCalls int
param rateLimitPeriodSeconds int
@description('Largest request body accepted (Herald: HERALD_MAX_REQUEST_BYTES).')
param maxRequestBytes int

var policy = join([
  '<policies>'
  '  <inbound>'
  '    <base />'
  '    <rate-limit-by-key calls="${rateLimitCalls}" renewal-period="${rateLimitPeriodSeconds}" counter-key="@(context.Request.IpAddress)" />'
  '    <validate-content unspecified-content-type-action="ignore" max-size="${maxRequestBytes}" size-exceeded-action="prevent" errors-variable-name="requestBodyValidation" />'
  '  </inbound>'
  '  <backend>'
  '    <base />'
  '  </backend>'
  '  <outbound>'
  '    <base />'
  '  </outbound>'
  '  <on-error>'
  '    <base />'
  '  </on-error>'
  '</policies>'
], '\n')

var methods = [
  'GET'
  'POST'
  'PUT'
  'PATCH'
  'DELETE'
  // Browser preflights reach the Function App, whose platform CORS answers them.
  'OPTIONS'
]

resource service 'Microsoft.ApiManagement/service@2023-09-01-preview' = {
  // checkov:skip=CKV_AZURE_107: the optional gateway is Herald's public entry point; VNet injection needs Premium-class tiers and is not what it is for
  // checkov:skip=CKV_AZURE_174: same as CKV_AZURE_107: public access is the gateway's purpose (callers carry Entra tokens)
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    capacity: 1
  }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
    customProperties: {
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10': 'false'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls11': 'false'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls10': 'false'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls11': 'false'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Ssl30': 'false'
    }
  }
}

resource api 'Microsoft.ApiManagement/service/apis@2023-09-01-preview' = {
  parent: service
  name: 'herald'
  properties: {
    displayName: 'Herald'
    path: 'api'
    protocols: [
      'https'
    ]
    serviceUrl: '${backendUrl}/api'
    // Callers authenticate with Entra bearer tokens, not APIM subscription keys.
    subscriptionRequired: false
  }
}

resource operations 'Microsoft.ApiManagement/service/apis/operations@2023-09-01-preview' = [for method in methods: {
  parent: api
  name: toLower(method)
  properties: {
    displayName: '${method} /*'
    method: method
    urlTemplate: '/*'
  }
}]

resource apiPolicy 'Microsoft.ApiManagement/service/apis/policies@2023-09-01-preview' = {
  parent: api
  name: 'policy'
  properties: {
    format: 'rawxml'
    value: policy
  }
}

output gatewayUrl string = service.properties.gatewayUrl
